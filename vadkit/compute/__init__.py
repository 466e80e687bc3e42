"""Where computation runs: device, precision and memory format, and several processes."""
