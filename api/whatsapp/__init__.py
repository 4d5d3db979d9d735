"""The WhatsApp channel: webhook signature, payload parsing, Graph API client, routes."""
