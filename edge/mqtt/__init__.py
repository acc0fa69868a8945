"""The one paho-mqtt wrapper of the project: topics, payload models, and a client bridged to asyncio."""
