"""Adapters for the engine's ports: real HTTP and AI clients, in-memory ones, clocks."""
