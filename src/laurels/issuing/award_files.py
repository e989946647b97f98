"""CSV files of awards: one reader for the web's CSV upload and `laurels award`.

A file has one award a row: identity, name, narrative, evidence URL (only the first is
needed; a first row whose first cell is `identity` is a header and skipped; blank rows
are skipped). UTF-8, with or without a byte-order mark. Rows are numbered by the line
they start on, as a spreadsheet shows them, so that every problem names its line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from laurels.issuing.models import BadgeClass, RecipientType
from laurels.issuing.services import AwardInput, award_batch_input, awards_check

COLUMNS = ("identity", "name", "narrative", "evidence_url")
# The longest cell kept; longer ones are a problem of their row (a narrative is text, not
# a document).
MAX_CELL = 10_000
# The longest recipient name an award keeps (`Assertion.recipient_name`).
MAX_NAME = 255


class UnreadableCsv(ValueError):
    """The file as a whole cannot be read: not UTF-8 text, or more rows than allowed."""


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass
class CheckedCsv:
    """The rows of a file (`AwardBatch.rows` form: `line`, `type`, `identity`, `name`,
    `narrative`, `evidence_url`) and every problem found, by line."""

    rows: list[dict] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)

    def awards(self) -> list[tuple[int, AwardInput]]:
        """(line, award) of each row."""
        return [(row["line"], award_batch_input(row)) for row in self.rows]


def csv_rows(
    data: bytes, *, recipient_type: str = RecipientType.EMAIL, max_rows: int | None = None
) -> CheckedCsv:
    """The rows of `data`, and the problems of reading them (a broken quote, a cell too
    long). UnreadableCsv when the file is not UTF-8 text or has more than `max_rows`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableCsv(
            f"The file is not UTF-8 text (byte {error.start + 1}); save it as CSV UTF-8."
        ) from None
    if "\x00" in text:
        raise UnreadableCsv("The file holds NUL characters: it is not a CSV text file.")
    checked = CheckedCsv()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for cells in reader:
            number, line = line, reader.line_num + 1
            cells = [cell.strip() for cell in cells]
            if number == 1 and cells and cells[0].lower() == "identity":
                continue
            if not any(cells):
                continue
            if max_rows is not None and len(checked.rows) >= max_rows:
                raise UnreadableCsv(f"The file has more than {max_rows:,} rows; split it.")
            row = dict(zip(COLUMNS, [*cells, "", "", "", ""][:4], strict=True))
            if len(cells) > len(COLUMNS) and any(cells[len(COLUMNS) :]):
                checked.problems.append(
                    LineProblem(
                        number, "Too many columns: identity, name, narrative, evidence URL."
                    )
                )
            if any(len(value) > MAX_CELL for value in row.values()):
                checked.problems.append(
                    LineProblem(number, f"A cell is longer than {MAX_CELL:,} characters.")
                )
            elif len(row["name"]) > MAX_NAME:
                checked.problems.append(
                    LineProblem(number, f"The name is longer than {MAX_NAME} characters.")
                )
            checked.rows.append({"line": number, "type": str(recipient_type), **row})
    except csv.Error as error:
        checked.problems.append(LineProblem(line, f"The CSV cannot be read here: {error}."))
    return checked


def csv_checked(
    data: bytes,
    *,
    badge_class: BadgeClass,
    recipient_type: str = RecipientType.EMAIL,
    allow_duplicate_awards: bool = True,
    max_rows: int | None = None,
) -> CheckedCsv:
    """`csv_rows`, then every row checked as the award service checks an award
    (`services.awards_check`: the recipient for its type, the evidence URL, the dates;
    duplicates in the file and of live awards unless `allow_duplicate_awards`). Problems
    come sorted by line; nothing is written."""
    checked = csv_rows(data, recipient_type=recipient_type, max_rows=max_rows)
    if not checked.rows and not checked.problems:
        checked.problems.append(LineProblem(1, "The file has no rows to award."))
        return checked
    problems = awards_check(
        badge_class=badge_class,
        awards=[award for _, award in checked.awards()],
        allow_duplicate_awards=allow_duplicate_awards,
    )
    for index, messages in problems.items():
        line = checked.rows[index]["line"]
        checked.problems.extend(LineProblem(line, message) for message in messages)
    checked.problems.sort(key=lambda problem: problem.line)
    return checked
