"""Engine services: each owns one area's state and never speaks HTTP."""
