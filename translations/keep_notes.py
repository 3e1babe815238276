"""Keep the notes for translators (``#.`` lines) that were written into the catalog rather than the code.

Run by `make extract-messages` between extracting the template and updating the catalogs: extraction
rebuilds translations/messages.pot from the source, which holds none of these notes, and the update then
copies the template's (empty) notes into every catalog. This copies each entry's notes from the template
as it was before extraction (``messages.pot.old``), or from a catalog, into the new one, so the update keeps them.
"""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

here = Path(__file__).parent
new_path, old_path = here / "messages.pot", here / "messages.pot.old"
old: dict = {}
# The catalogs are read too: some notes were written only there. They are not updated yet when this runs.
for path in [old_path, *sorted(here.glob("*/LC_MESSAGES/messages.po"))]:
    with open(path, "rb") as handle:
        for message in read_po(handle):
            # By context too: one English word can be two entries ("Withdrawn", a comment's or an invitation's).
            if message.id and message.auto_comments and not old.get((message.context, message.id)):
                old[(message.context, message.id)] = message.auto_comments
with open(new_path, "rb") as handle:
    template = read_po(handle)
kept = 0
for message in template:
    if message.id and not message.auto_comments and old.get((message.context, message.id)):
        message.auto_comments = list(old[(message.context, message.id)])
        kept += 1
with open(new_path, "wb") as handle:
    write_po(handle, template, width=76, omit_header=False)
old_path.unlink()
sys.stdout.write(f"{new_path}: kept the notes for translators of {kept} messages\n")
