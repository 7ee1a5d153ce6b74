"""The hostile-input suite: malformed HTTP, wrong types, malicious archives, crafted DNS packets (issue 12)."""
