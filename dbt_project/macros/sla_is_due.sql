{#- Whether a ticket counts towards one of its SLAs (int_appeal_lifecycle): it is "due" once it
    reached the milestone, or once the milestone's deadline passed by the evaluation time without it;
    a ticket closed without reaching it (a duplicate, withdrawn) never is. Over the row's `status` and
    `evaluated_at`. -#}
{% macro sla_is_due(reached_at, due_at) -%}
    coalesce(
            {{ reached_at }} is not null
            or (status <> 'closed' and evaluated_at >= {{ due_at }}),
            false
        )
{%- endmacro %}
