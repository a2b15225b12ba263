"""Staff roles in areas, the residents of an area, and admins' changes to a user's home."""
