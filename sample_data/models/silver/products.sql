/* rat
materialized = "table"
[checks]
not_null = ["sku", "product_name", "category", "is_active"]
unique = ["sku"]
accepted_values = { category = ["bath", "garden", "kitchen", "lighting", "office", "textiles"] }
*/
WITH cleaned AS (
    SELECT
        upper(trim(CAST(sku AS VARCHAR)))                              AS sku,           -- ' sku-1002 ' -> 'SKU-1002'
        trim(regexp_replace(CAST(name AS VARCHAR), '\s+', ' ', 'g'))   AS product_name,
        lower(trim(CAST(category AS VARCHAR)))                         AS category,      -- ' Bath' -> 'bath'
        trim(CAST(brand AS VARCHAR))                                   AS brand,
        CASE
            WHEN lower(trim(CAST(active AS VARCHAR))) IN ('yes', 'y', 'true', '1') THEN TRUE
            WHEN lower(trim(CAST(active AS VARCHAR))) IN ('no', 'n', 'false', '0') THEN FALSE
        END                                                            AS is_active,
        _source_file,
        _ingested_at
    FROM bronze.products
)
SELECT sku, product_name, category, brand, is_active
FROM cleaned
WHERE sku IS NOT NULL AND sku <> ''
QUALIFY row_number() OVER (PARTITION BY sku ORDER BY _source_file DESC, _ingested_at DESC) = 1
ORDER BY sku
