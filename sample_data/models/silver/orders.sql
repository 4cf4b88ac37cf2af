/* rat
materialized = "table"
[checks]
not_null = ["order_id", "order_date", "status", "ship_country", "channel", "amount"]
unique = ["order_id"]
accepted_values = { status = ["new", "paid", "shipped", "cancelled"], channel = ["web", "app", "marketplace", "unknown"] }
*/
WITH cleaned AS (
    SELECT
        upper(trim(CAST(order_id AS VARCHAR)))                                        AS order_id,
        -- renamed column: Jan-Mar exports say customer_id, Apr-Jun say cust_id; bronze has both
        upper(coalesce(nullif(trim(CAST(customer_id AS VARCHAR)), ''),
                       nullif(trim(CAST(cust_id AS VARCHAR)), '')))                   AS customer_id,  -- NULL = guest
        -- two date formats: 2024-01-15 (Jan-Mar) and 15/04/2024 (Apr-Jun), a few mixed in each file
        coalesce(
            try_strptime(left(trim(CAST(order_date AS VARCHAR)), 10), '%Y-%m-%d'),
            try_strptime(left(trim(CAST(order_date AS VARCHAR)), 10), '%d/%m/%Y')
        )::DATE                                                                       AS order_date,
        CASE lower(trim(CAST(status AS VARCHAR)))
            WHEN 'canceled' THEN 'cancelled'
            ELSE lower(trim(CAST(status AS VARCHAR)))
        END                                                                           AS status,
        upper(trim(CAST(ship_country AS VARCHAR)))                                    AS ship_country,
        -- channel only exists from April on
        coalesce(nullif(lower(trim(CAST(channel AS VARCHAR))), ''), 'unknown')        AS channel,
        -- '$1,234.50', '€12.00', '12.5' -> 1234.50, 12.00, 12.50
        TRY_CAST(nullif(regexp_replace(CAST(amount AS VARCHAR), '[^0-9.\-]', '', 'g'), '') AS DECIMAL(12, 2)) AS amount,
        _source_file,
        _ingested_at
    FROM bronze.orders
)
SELECT order_id, customer_id, order_date, status, ship_country, channel, amount
FROM cleaned
WHERE order_id IS NOT NULL AND order_id <> ''
-- an order appears in several monthly exports (re-exports, status updates) and some rows twice in
-- one file: keep the row from the latest export file (file names sort by month)
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _source_file DESC, _ingested_at DESC) = 1
ORDER BY order_id
