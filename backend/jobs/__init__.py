"""Jobs run by ``shelf-backend`` commands or a timer; each reuses the services and returns counts."""
