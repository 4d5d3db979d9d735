"""Domain services: the operations routes and workers share."""
