/* rat
materialized = "table"
[checks]
not_null = ["customer_id", "name", "country", "signup_date"]
unique = ["customer_id"]
accepted_values = { country = ["AT", "BE", "DE", "ES", "FR", "GB", "IT", "NL", "PL", "SE", "US"] }
*/
WITH cleaned AS (
    -- bronze types are never trusted: every column goes through VARCHAR first
    SELECT
        upper(trim(CAST(customer_id AS VARCHAR)))                              AS customer_id,  -- ' c0012 ' -> 'C0012'
        trim(regexp_replace(CAST(name AS VARCHAR), '\s+', ' ', 'g'))           AS name,
        lower(trim(CAST(email AS VARCHAR)))                                    AS email_raw,
        upper(trim(CAST(country AS VARCHAR)))                                  AS country,      -- ' de' -> 'DE'
        coalesce(
            try_strptime(left(trim(CAST(signup_date AS VARCHAR)), 10), '%Y-%m-%d'),
            try_strptime(left(trim(CAST(signup_date AS VARCHAR)), 10), '%d/%m/%Y')
        )::DATE                                                                AS signup_date,
        _source_file,
        _ingested_at
    FROM bronze.customers
)
SELECT
    customer_id,
    name,
    CASE WHEN email_raw LIKE '%_@_%._%' THEN email_raw END AS email,  -- '', 'n/a', '-' -> NULL
    country,
    signup_date
FROM cleaned
WHERE customer_id IS NOT NULL AND customer_id <> ''
-- exact and near duplicates (same id after trim/upper): keep the most recent export
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _source_file DESC, _ingested_at DESC) = 1
ORDER BY customer_id
