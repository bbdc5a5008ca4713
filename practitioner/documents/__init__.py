"""Patient documents: context builders, rendering to PDF, issuing and the archive."""
