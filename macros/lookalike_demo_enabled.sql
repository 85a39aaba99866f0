{#- True when the bundled demo (seeds and demo runs) is part of this build.
    var lookalike_demo wins; when it is null the demo is on only if this package is the root
    project, so a host project that installs the package gets no demo unless it asks for one. -#}
{% macro lookalike_demo_enabled() %}
  {%- set flag = var('lookalike_demo', none) -%}
  {%- if flag is none -%}
    {{ return(project_name == 'lookalike') }}
  {%- endif -%}
  {{ return(flag in [true, 'true', 'True', 1, '1', 'yes']) }}
{% endmacro %}
