"""Sources: turning what an app really offers (its log, its database) into events.

Each source is pure where it can be: it maps lines or rows to envelopes and returns its next
state as plain data; reading the file or running the query, publishing and persisting the state
(after publishing) are the engine's part.
"""
