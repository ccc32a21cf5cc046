{% with Orders = this.DeRef("inputs/rsOrders") People = this.DeRef("inputs/rsIdentifies") %}
  select o.user_id, o.amount, o.timestamp, {{ size_label('o.amount', '100') }} as size,
         (select count(*) from {{People}} p where p.user_id = o.user_id) as identifies
  from {{Orders}} o
{% endwith %}
