"""The builder's domain: Dockerfile parsing, instructions, context, copying, config edits (no engine imports)."""
