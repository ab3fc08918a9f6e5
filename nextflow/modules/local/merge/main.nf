// MERGE: variants.parquet + the cache → scores.parquet (one list column per statistic), scores.tracks.tsv and
// a JSON summary (rows in, scored, wall and busy time: read by REPORT's run summary).
// Reads and verifies every entry; fails (exit 1, naming the missing sequences) rather than score from an
// incomplete cache. The caller makes it wait for every CHECK_CACHE and PREDICT task through `done`.
process MERGE {
    tag "${meta.id}"
    label 'process_medium'
    container 'enformer-vep:0.1.0'
    containerOptions "${ workflow.containerEngine in ['singularity', 'apptainer'] ? "-B ${cache_dir}" : "-v ${cache_dir}:${cache_dir}" }"

    input:
    tuple val(meta), path(variants)                     // variants.parquet from EXTRACT_SEQS
    tuple val(meta2), path(model), path(namespace_file) // the ONNX model and its namespace.json from NAMESPACE
    val cache_dir                                       // absolute path of the shared cache folder (a string, not staged)
    path legacy_cache                                   // the legacy tool's {sha256}.pkl.gz folder; [] if none
    path targets                                        // targets_human.txt naming the tracks; [] if none
    val args                                            // namespace flags (as for CHECK_CACHE and PREDICT), --stats, --tracks
    path done, stageAs: 'done/*'                        // every CHECK_CACHE and PREDICT summary: only a signal to wait for them

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.parquet")   , emit: scores
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.tracks.tsv"), emit: tracks, optional: true
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.json")      , emit: summary
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def legacy = legacy_cache ? "--legacy-cache ${legacy_cache}" : ''
    def track_table = targets ? "--targets ${targets}" : ''
    def extra = task.ext.args ?: ''
    """
    ${bin} merge \\
        --variants "${variants}" \\
        --model "${model}" \\
        --namespace-file "${namespace_file}" \\
        --cache "${cache_dir}" \\
        --out ${prefix}.parquet \\
        --summary ${prefix}.json \\
        --threads ${task.cpus} \\
        ${legacy} ${track_table} ${args} ${extra}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.parquet ${prefix}.tracks.tsv
    echo '{"rows_in": 2, "scored": 2, "tracks": 0, "warnings": [], "stub": true}' > ${prefix}.json
    """
}
