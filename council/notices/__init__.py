"""Home pages and notices: what is waiting for each person, found without storing who wrote what."""
