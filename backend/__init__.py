"""The central service a retailer runs (command ``shelf-backend``): see backend/README.md."""
