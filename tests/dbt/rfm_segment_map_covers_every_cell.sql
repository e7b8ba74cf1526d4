{#- Every (r_score, fm_score) cell of the 5 x 5 grid has exactly one named segment. -#}
with cells as (
    select
        r_score,
        fm_score
    from (values (1), (2), (3), (4), (5)) as r_scores (r_score)
    cross join (values (1), (2), (3), (4), (5)) as fm_scores (fm_score)
)

select
    cells.r_score,
    cells.fm_score,
    count(segment_map.rfm_segment) as segments
from cells
left join {{ ref('rfm_segment_map') }} as segment_map
    on cells.r_score = segment_map.r_score and cells.fm_score = segment_map.fm_score
group by cells.r_score, cells.fm_score
having count(segment_map.rfm_segment) <> 1
