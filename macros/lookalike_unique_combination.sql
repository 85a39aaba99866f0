{#- Generic test: the combination of `columns` is unique in the model (its grain). -#}
{% test lookalike_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
