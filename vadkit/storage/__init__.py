"""Crash-safe files: atomic writes, folders replaced as a whole, and the one-writer lock.

Nothing here imports torch: run folders, score sets, bundles and the frame cache all write
through these modules.
"""
