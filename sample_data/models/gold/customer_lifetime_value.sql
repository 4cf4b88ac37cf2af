/* rat
materialized = "table"
[checks]
not_null = ["customer_id", "name", "country", "signup_date", "orders", "cancelled_orders", "revenue", "segment"]
unique = ["customer_id"]
accepted_values = { segment = ["no_orders", "one_time", "repeat", "loyal"] }
*/
WITH per_customer AS (
    -- cancelled orders count in cancelled_orders only; guest orders (no customer) are left out
    SELECT
        customer_id,
        min(order_date) FILTER (WHERE status <> 'cancelled')               AS first_order_date,
        max(order_date) FILTER (WHERE status <> 'cancelled')               AS last_order_date,
        count(*) FILTER (WHERE status <> 'cancelled')                      AS orders,
        count(*) FILTER (WHERE status = 'cancelled')                       AS cancelled_orders,
        coalesce(sum(amount) FILTER (WHERE status <> 'cancelled'), 0)      AS revenue
    FROM silver.orders
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
),
snapshot AS (
    SELECT max(order_date) AS as_of FROM silver.orders
)
SELECT
    c.customer_id,
    c.name,
    c.email,
    c.country,
    c.signup_date,
    p.first_order_date,
    p.last_order_date,
    coalesce(p.orders, 0)                                              AS orders,
    coalesce(p.cancelled_orders, 0)                                    AS cancelled_orders,
    CAST(coalesce(p.revenue, 0) AS DECIMAL(14, 2))                     AS revenue,
    CAST(round(p.revenue / nullif(p.orders, 0), 2) AS DECIMAL(12, 2))  AS avg_order_value,
    s.as_of - p.last_order_date                                        AS days_since_last_order,
    CASE
        WHEN coalesce(p.orders, 0) = 0 THEN 'no_orders'
        WHEN p.orders = 1 THEN 'one_time'
        WHEN p.orders < 5 THEN 'repeat'
        ELSE 'loyal'
    END                                                                AS segment,
    CASE WHEN coalesce(p.orders, 0) > 0
         THEN rank() OVER (ORDER BY coalesce(p.revenue, 0) DESC) END  AS revenue_rank
FROM silver.customers AS c
LEFT JOIN per_customer AS p USING (customer_id)
CROSS JOIN snapshot AS s
ORDER BY revenue DESC, c.customer_id
