/* rat
materialized = "table"
[checks]
not_null = ["order_item_id", "order_id", "line_no", "sku", "quantity", "unit_price", "line_amount"]
unique = ["order_item_id"]
*/
WITH cleaned AS (
    -- NDJSON: a key holding both numbers and strings ("quantity": "2") may reach bronze as text or
    -- as JSON ('"2"' with quotes), so strip everything that is not part of the value
    SELECT
        upper(trim(replace(CAST(order_id AS VARCHAR), '"', '')))                               AS order_id,
        TRY_CAST(nullif(regexp_replace(CAST(line_no AS VARCHAR), '[^0-9.\-]', '', 'g'), '') AS INTEGER)
                                                                                               AS line_no,
        upper(trim(replace(CAST(sku AS VARCHAR), '"', '')))                                    AS sku,  -- ' sku-1002 '
        TRY_CAST(nullif(regexp_replace(CAST(quantity AS VARCHAR), '[^0-9.\-]', '', 'g'), '') AS INTEGER)
                                                                                               AS quantity,
        TRY_CAST(nullif(regexp_replace(CAST(unit_price AS VARCHAR), '[^0-9.\-]', '', 'g'), '') AS DECIMAL(10, 2))
                                                                                               AS unit_price,
        _source_file,
        _ingested_at
    FROM bronze.order_items
)
SELECT
    order_id || '-' || line_no    AS order_item_id,
    order_id,
    line_no,
    sku,
    quantity,
    unit_price,
    CAST(quantity * unit_price AS DECIMAL(12, 2)) AS line_amount
FROM cleaned
WHERE order_id IS NOT NULL AND order_id <> '' AND line_no IS NOT NULL
-- exact duplicate lines in the export: one row per order line
QUALIFY row_number() OVER (PARTITION BY order_id, line_no ORDER BY _source_file DESC, _ingested_at DESC) = 1
ORDER BY order_id, line_no
