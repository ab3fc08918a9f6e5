// MERGE: variants.parquet + the cache → scores.parquet (one list column per statistic) and scores.tracks.tsv.
// Reads and verifies every entry; fails (exit 1, naming the missing sequences) rather than score from an
// incomplete cache. The caller makes it wait for every CHECK_CACHE and PREDICT task through `done`.
process MERGE {
    tag "${variants.name}"
    label 'process_medium'
    container 'enformer-vep:0.1.0'
    containerOptions "${ workflow.containerEngine in ['singularity', 'apptainer'] ? "-B ${cache_dir}" : "-v ${cache_dir}:${cache_dir}" }"

    input:
    path variants                 // variants.parquet from EXTRACT_SEQS
    path model                    // the ONNX model
    path namespace_file           // namespace.json from NAMESPACE: the model's SHA-256, computed once
    val cache_dir                 // absolute path of the shared cache folder (a string, not staged)
    path legacy_cache             // the legacy tool's {sha256}.pkl.gz folder; [] if none
    path targets                  // targets_human.txt naming the tracks; [] if none
    val args                      // namespace flags (as for CHECK_CACHE and PREDICT), --stats, --tracks
    path done, stageAs: 'done/*'  // every CHECK_CACHE and PREDICT summary: only a signal to wait for them

    output:
    path "scores.parquet"   , emit: scores
    path "scores.tracks.tsv", emit: tracks, optional: true
    path "versions.yml"     , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def legacy = legacy_cache ? "--legacy-cache ${legacy_cache}" : ''
    def track_table = targets ? "--targets ${targets}" : ''
    def extra = task.ext.args ?: ''
    """
    ${bin} merge \\
        --variants "${variants}" \\
        --model "${model}" \\
        --namespace-file "${namespace_file}" \\
        --cache "${cache_dir}" \\
        --out scores.parquet \\
        --threads ${task.cpus} \\
        ${legacy} ${track_table} ${args} ${extra}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    touch scores.parquet scores.tracks.tsv

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
