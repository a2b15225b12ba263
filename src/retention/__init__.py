"""Personal data retention: what is past its time is deleted (``lifecircle purge``)."""
