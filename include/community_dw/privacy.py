"""The privacy step at the door: redact free text, replace direct identifiers by pseudonyms, keep the
pseudonym -> original pairs for the vault.

It runs after derivation (birth date, sex and check-digit validity are computed from the original ID
number first, so nothing downstream needs it) and before the gate, so the gate, the quarantine and
everything after them only ever see pseudonyms. Which columns it touches is declared in the contract:
`redact: true` on free text, `privacy: direct` with a `pseudonym_domain` on identifiers, `vault: false`
for identifiers nobody may ever re-identify.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from community_dw.contracts import Contract
from community_dw.pseudonymize import Pseudonymizer

VAULT_SCHEMA = pa.schema(
    [("domain", pa.string()), ("pseudonym", pa.string()), ("original_value", pa.string())]
)


@dataclass(frozen=True)
class ProtectedTable:
    table: pa.Table  # redacted and pseudonymized
    vault: pa.Table  # VAULT_SCHEMA: the pairs to add to vault.identities


def redact_columns(table: pa.Table, contract: Contract) -> pa.Table:
    """Mask personal data (names, addresses, plates, e-mail, card, ID and phone numbers) in free text."""
    from community_dw.redact import redact_free_text

    for col in contract.columns:
        if col.redact:
            index = table.column_names.index(col.name)
            table = table.set_column(index, col.name, redact_free_text(table.column(col.name)))
    return table


def pseudonymize_columns(table: pa.Table, contract: Contract, pseudonymizer: Pseudonymizer) -> ProtectedTable:
    """Replace every direct identifier with its pseudonym; return the table and the vault pairs.

    A column kept in the vault is pseudonymized through its distinct delivered values, so the vault gets
    each (pseudonym, original) pair once: the same pairs the loader's `select distinct` kept before, in
    a smaller staged file and a smaller insert (the 1,000,000-row register: 4.9 million pairs before).
    """
    vault_parts = []
    for col in contract.direct_columns:
        if col.pseudonym_domain is None:
            continue
        original = table.column(col.name).combine_chunks().cast(pa.string())
        if col.vault:
            encoded = pc.dictionary_encode(original)  # nulls stay null indices, out of the dictionary
            distinct = encoded.dictionary
            distinct_pseudonyms = pseudonymizer.pseudonymize(col.pseudonym_domain, distinct)
            pseudonyms = pc.take(distinct_pseudonyms, encoded.indices)
            domain = pa.repeat(pa.scalar(col.pseudonym_domain, pa.string()), len(distinct))
            vault_parts.append(pa.table([domain, distinct_pseudonyms, distinct], schema=VAULT_SCHEMA))
        else:
            pseudonyms = pseudonymizer.pseudonymize(col.pseudonym_domain, original)
        table = table.set_column(table.column_names.index(col.name), col.name, pseudonyms)
    vault = pa.concat_tables(vault_parts) if vault_parts else VAULT_SCHEMA.empty_table()
    return ProtectedTable(table, vault)


def protect_identities(table: pa.Table, contract: Contract, pseudonymizer: Pseudonymizer) -> ProtectedTable:
    """Redact, then pseudonymize: the table as the rest of the pipeline may see it."""
    return pseudonymize_columns(redact_columns(table, contract), contract, pseudonymizer)
