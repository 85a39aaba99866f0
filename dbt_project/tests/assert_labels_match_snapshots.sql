{{ config(severity='warn') }}
{#- Warns about every run (FAILED ones too) where more than var lookalike_health_max_unmatched_share
    of the input labels matched no snapshot: such labels are silently lost from training. Prints
    one line per run. Always a warning. -#}
{%- set max_share = lookalike.lookalike_var('lookalike_health_max_unmatched_share') -%}
{%- set text = dbt.type_string() -%}
{%- set failing %}
select run_id, n_input_labels, n_matched_labels,
    'run ''' || run_id || ''': ' || cast(n_input_labels - coalesce(n_matched_labels, 0) as {{ text }})
    || ' of ' || cast(n_input_labels as {{ text }}) || ' input labels ('
    || cast(round(100.0 * (n_input_labels - coalesce(n_matched_labels, 0)) / n_input_labels, 1) as {{ text }})
    || '%) matched no snapshot (more than {{ max_share * 100 }}%, var lookalike_health_max_unmatched_share). '
    || 'Check label_timestamp against the snapshot times and the user ids.' as message
from {{ ref('lookalike_input_label_summary') }}
where n_input_labels > 0
  and (n_input_labels - coalesce(n_matched_labels, 0)) > {{ max_share }} * n_input_labels
{%- endset %}
{{- lookalike.lookalike_log_test_rows('assert_labels_match_snapshots', failing, ref('lookalike_input_label_summary')) }}
{{ failing }}
