"""Copy each message id into the English catalog's translation, so English is complete too.

Run by `make extract-messages`; English is the source language, so its "translation" is the id.
"""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

catalog_path = Path(__file__).parent / "en" / "LC_MESSAGES" / "messages.po"
with open(catalog_path, "rb") as handle:
    catalog = read_po(handle, locale="en")
for message in catalog:
    if not message.id:
        continue
    message.string = message.id
    message.flags.discard("fuzzy")
with open(catalog_path, "wb") as handle:
    write_po(handle, catalog, width=100, omit_header=False)
sys.stdout.write(f"{catalog_path}: {len(catalog)} messages\n")
