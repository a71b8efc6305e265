"""Protocol-faithful local stand-ins for cloud services that can't be reached from a dev machine."""
