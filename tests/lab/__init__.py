"""Labs from scenario files: parsing, planning, the timeline, the CLI (fakens lab)."""
