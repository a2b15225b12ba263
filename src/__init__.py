"""lifecircle: backend of the 15-minute community life circle participation app."""
