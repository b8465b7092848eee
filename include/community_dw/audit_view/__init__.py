"""The auditor's view: data-quality history, the ledger's proof and the release audits, read from `audit`.

    store       read-only connections to the warehouse's `audit` schema (DuckDB file or PostgreSQL)
    figures     what the page and the monthly report show, computed from the audit rows
    bands       the anomaly band (14 days of history, mean ± 3σ, as Elementary does)
    freshness   the contract's schedule against the batches received: late and missing intervals
    findings    auditors' acknowledgements of findings, kept in audit.acknowledgements
    access_log  reads of person-level data by people, from pgaudit's log (PostgreSQL), into audit.access_log
    access      who may see it: Airflow's own authentication and an auditor role in the auth manager
    render      the HTML (one template for the page and the report), charts drawn by plotly.js
    report      the monthly report for the record: HTML and PDF with the sha256 of the ledger rows
    app         the FastAPI app the Airflow plugin in plugins/ mounts

The plugin in `plugins/` only mounts `app.create_app()`; everything it shows is computed here, so it
is tested without a web server and the report shows the very same figures.
"""
