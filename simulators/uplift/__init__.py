"""A chain of stores for measurement: shoppers with a known response to offers, the real offer
engine deciding, and the event files the central measurement jobs read (see README.md)."""
