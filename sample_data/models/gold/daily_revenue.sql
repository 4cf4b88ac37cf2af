/* rat
materialized = "table"
[checks]
not_null = ["order_date", "orders", "cancelled_orders", "customers", "units", "revenue", "revenue_7d_avg", "cumulative_revenue"]
unique = ["order_date"]
*/
WITH order_units AS (
    SELECT order_id, sum(quantity) AS units
    FROM silver.order_items
    GROUP BY order_id
),
per_day AS (
    -- cancelled orders are counted in cancelled_orders only: they add no orders, units or revenue
    SELECT
        o.order_date,
        count(*) FILTER (WHERE o.status <> 'cancelled')                           AS orders,
        count(*) FILTER (WHERE o.status = 'cancelled')                            AS cancelled_orders,
        count(DISTINCT o.customer_id) FILTER (WHERE o.status <> 'cancelled')      AS customers,
        coalesce(sum(u.units) FILTER (WHERE o.status <> 'cancelled'), 0)          AS units,
        coalesce(sum(o.amount) FILTER (WHERE o.status <> 'cancelled'), 0)        AS revenue
    FROM silver.orders AS o
    LEFT JOIN order_units AS u USING (order_id)
    GROUP BY o.order_date
),
calendar AS (
    -- one row per day, also for a day without any order
    SELECT CAST(unnest(generate_series(min(order_date), max(order_date), INTERVAL 1 DAY)) AS DATE) AS order_date
    FROM silver.orders
)
SELECT
    c.order_date,
    coalesce(d.orders, 0)                                                   AS orders,
    coalesce(d.cancelled_orders, 0)                                         AS cancelled_orders,
    coalesce(d.customers, 0)                                                AS customers,
    CAST(coalesce(d.units, 0) AS BIGINT)                                    AS units,
    CAST(coalesce(d.revenue, 0) AS DECIMAL(14, 2))                          AS revenue,
    CAST(round(d.revenue / nullif(d.orders, 0), 2) AS DECIMAL(12, 2))       AS avg_order_value,  -- NULL without orders
    CAST(round(avg(coalesce(d.revenue, 0)) OVER (ORDER BY c.order_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2)
         AS DECIMAL(14, 2))                                                 AS revenue_7d_avg,
    CAST(sum(coalesce(d.revenue, 0)) OVER (ORDER BY c.order_date) AS DECIMAL(14, 2)) AS cumulative_revenue
FROM calendar AS c
LEFT JOIN per_day AS d USING (order_date)
ORDER BY c.order_date
