/* rat
materialized = "table"
[checks]
not_null = ["price_id", "sku", "price", "valid_from", "is_current"]
unique = ["price_id"]
*/
WITH cleaned AS (
    SELECT
        upper(trim(CAST(sku AS VARCHAR)))                                                    AS sku,
        TRY_CAST(nullif(regexp_replace(CAST(price AS VARCHAR), '[^0-9.\-]', '', 'g'), '') AS DECIMAL(10, 2)) AS price,
        coalesce(
            try_strptime(left(trim(CAST(valid_from AS VARCHAR)), 10), '%Y-%m-%d'),
            try_strptime(left(trim(CAST(valid_from AS VARCHAR)), 10), '%d/%m/%Y')
        )::DATE                                                                              AS valid_from,
        _source_file,
        _ingested_at
    FROM bronze.product_prices
),
deduped AS (
    -- one price per sku and start date (the parquet export repeats a few rows)
    SELECT sku, price, valid_from
    FROM cleaned
    WHERE sku IS NOT NULL AND sku <> '' AND price IS NOT NULL AND valid_from IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY sku, valid_from ORDER BY _source_file DESC, _ingested_at DESC) = 1
)
SELECT
    sku || '@' || strftime(valid_from, '%Y-%m-%d')                        AS price_id,
    sku,
    price,
    valid_from,
    lead(valid_from) OVER (PARTITION BY sku ORDER BY valid_from)          AS valid_to,   -- exclusive; NULL = still valid
    lead(valid_from) OVER (PARTITION BY sku ORDER BY valid_from) IS NULL  AS is_current
FROM deduped
ORDER BY sku, valid_from
