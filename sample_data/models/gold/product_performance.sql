/* rat
materialized = "table"
[checks]
not_null = ["sku", "product_name", "category", "is_active", "orders", "units", "revenue", "cancelled_units", "current_price", "category_revenue_share"]
unique = ["sku"]
accepted_values = { category = ["bath", "garden", "kitchen", "lighting", "office", "textiles"] }
*/
WITH lines AS (
    SELECT i.sku, i.order_id, i.quantity, i.line_amount, o.order_date, o.status
    FROM silver.order_items AS i
    JOIN silver.orders AS o USING (order_id)
),
per_sku AS (
    -- cancelled orders count in cancelled_units only: no orders, units or revenue
    SELECT
        sku,
        count(DISTINCT order_id) FILTER (WHERE status <> 'cancelled')      AS orders,
        coalesce(sum(quantity) FILTER (WHERE status <> 'cancelled'), 0)    AS units,
        coalesce(sum(line_amount) FILTER (WHERE status <> 'cancelled'), 0) AS revenue,
        coalesce(sum(quantity) FILTER (WHERE status = 'cancelled'), 0)     AS cancelled_units,
        min(order_date) FILTER (WHERE status <> 'cancelled')               AS first_sold_date,
        max(order_date) FILTER (WHERE status <> 'cancelled')               AS last_sold_date
    FROM lines
    GROUP BY sku
),
current_price AS (
    SELECT sku, price AS current_price
    FROM silver.product_prices
    WHERE is_current
)
SELECT
    p.sku,
    p.product_name,
    p.category,
    p.brand,
    p.is_active,
    coalesce(s.orders, 0)                                               AS orders,
    CAST(coalesce(s.units, 0) AS BIGINT)                                AS units,
    CAST(coalesce(s.revenue, 0) AS DECIMAL(14, 2))                      AS revenue,
    CAST(coalesce(s.cancelled_units, 0) AS BIGINT)                      AS cancelled_units,
    CAST(round(s.revenue / nullif(s.units, 0), 2) AS DECIMAL(10, 2))    AS avg_unit_price,
    cp.current_price,
    s.first_sold_date,
    s.last_sold_date,
    rank() OVER (ORDER BY coalesce(s.revenue, 0) DESC)                  AS revenue_rank,
    CAST(coalesce(round(coalesce(s.revenue, 0)
                        / nullif(sum(coalesce(s.revenue, 0)) OVER (PARTITION BY p.category), 0), 4), 0)
         AS DECIMAL(6, 4))                                              AS category_revenue_share
FROM silver.products AS p
LEFT JOIN per_sku AS s USING (sku)
LEFT JOIN current_price AS cp USING (sku)
ORDER BY revenue DESC, p.sku
