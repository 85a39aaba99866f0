{#- The candidate closest to `name` by edit distance (Levenshtein: insertions, deletions and
    substitutions, case-insensitive), for "did you mean" hints; none when even the closest is too
    far: more than max(2, a third of the name's length, without `ignore_prefix`) edits, so an
    unrelated name gets no suggestion. Ties go to the first candidate.
        lookalike.lookalike_closest_name('pu_bag', ['pu_bags', 'pu_method'])              -> 'pu_bags'
        lookalike.lookalike_closest_name('lookalike_event', names, 'lookalike_')          -> 'lookalike_events' -#}
{% macro lookalike_closest_name(name, candidates, ignore_prefix='') %}
  {%- set word = name | string | lower -%}
  {%- set core = word[ignore_prefix | length:] if ignore_prefix and word.startswith(ignore_prefix) else word -%}
  {%- set limit = [2, (core | length) // 3] | max -%}
  {%- set best = {'name': none, 'distance': limit + 1} -%}
  {%- for candidate in candidates -%}
    {%- set distance = lookalike.lookalike_edit_distance(word, candidate | string | lower) -%}
    {%- if distance < best['distance'] -%}{%- do best.update({'name': candidate, 'distance': distance}) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(best['name']) }}
{% endmacro %}


{#- Levenshtein distance between two texts (one row of the table at a time). -#}
{% macro lookalike_edit_distance(a, b) %}
  {%- set rows = [range(b | length + 1) | list] -%}
  {%- for i in range(1, a | length + 1) -%}
    {%- set previous = rows[-1] -%}
    {%- set current = [i] -%}
    {%- for j in range(1, b | length + 1) -%}
      {%- do current.append([previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (0 if a[i - 1] == b[j - 1] else 1)] | min) -%}
    {%- endfor -%}
    {%- do rows.append(current) -%}
  {%- endfor -%}
  {{ return(rows[-1][-1]) }}
{% endmacro %}
