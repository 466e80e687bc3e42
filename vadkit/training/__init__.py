"""Training: the Trainer, its step, callbacks, optimizer, budget and several processes."""
