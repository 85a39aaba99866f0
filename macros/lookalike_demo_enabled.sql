{#- True when the bundled demo (seeds and demo runs) is part of this build.
    var lookalike_demo wins; when it is null the demo is on only if this package is the root
    project and none of your own required inputs (lookalike_user_snapshots, lookalike_labels,
    lookalike_runs) is set, so a host project that installs the package, or a build on your own
    tables inside this repository, gets no demo unless it asks for one.
    The same rule is written in seeds/_demo_seeds.yml (seed configs cannot call macros). -#}
{% macro lookalike_demo_enabled() %}
  {%- set flag = var('lookalike_demo', none) -%}
  {%- if flag is none -%}
    {{ return(project_name == 'lookalike' and not lookalike.lookalike_own_inputs_given()) }}
  {%- endif -%}
  {{ return(flag in [true, 'true', 'True', 1, '1', 'yes']) }}
{% endmacro %}


{#- The package's inputs are read as a set (docs/inputs.md, "Which inputs are read"): the demo's seeds are
    used only when none of the three required inputs is set. Once one is set, the other two must
    be set too, and an unset optional input (events, items) is empty, never the demo's. -#}
{% macro lookalike_required_inputs() %}
  {{ return(['lookalike_user_snapshots', 'lookalike_labels', 'lookalike_runs']) }}
{% endmacro %}


{#- The names of the required input variables that are set (not null, not blank). -#}
{% macro lookalike_own_inputs_set() %}
  {%- set given = [] -%}
  {%- for name in lookalike.lookalike_required_inputs() -%}
    {%- set value = var(name, none) -%}
    {%- if value is not none and (value | string | trim) != '' -%}{%- do given.append(name) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(given) }}
{% endmacro %}


{% macro lookalike_own_inputs_given() %}
  {{ return(lookalike.lookalike_own_inputs_set() | length > 0) }}
{% endmacro %}
