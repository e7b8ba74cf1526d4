{#- The points in time features are computed at: as_of, then every var feature_cutoff_step_days
    back, var feature_cutoff_count in all. The latest scores; earlier ones, whose label window has
    passed, train. -#}
{% for cutoff_index in range(var('feature_cutoff_count')) %}
    select
        {{ cutoff_index }} as cutoff_index,
        {{ dbt.dateadd('day', -cutoff_index * var('feature_cutoff_step_days'), as_of()) }} as feature_as_of
    {% if not loop.last %}union all{% endif %}
{% endfor %}
