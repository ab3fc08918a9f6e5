#!/usr/bin/env nextflow
// An example of a user's own pipeline that uses enformer-vep's Nextflow steps as building blocks.
// In your pipeline, point the include paths at your enformer-vep checkout (or a git submodule of it),
// e.g. '/opt/enformer-vep/nextflow/subworkflows/local/enformer_vep/main'.
//
//   nextflow run nextflow/examples/user_pipeline.nf -params-file my-config.yaml \
//       -c nextflow/examples/user_pipeline.config [-profile ...] [-entry BY_STEPS]
//
// ENFORMER_VEP is the whole DAG (skip included). The subworkflow's file also re-exports the four step
// processes, so one include gives both; a single step can also come from modules/local/<step>/main.nf.

nextflow.enable.dsl = 2

include { ENFORMER_VEP; NAMESPACE; EXTRACT_SEQS; CHECK_CACHE; PREDICT; MERGE } from '../subworkflows/local/enformer_vep/main'

// Your own downstream step (here only a listing of scores.parquet; yours would read it with pyarrow, R, ...).
process REPORT_SCORES {
    tag "${scores.name}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    path scores

    output:
    path "scores.ls.txt", emit: report
    path "versions.yml"   , emit: versions

    script:
    """
    ls -l ${scores} > scores.ls.txt

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        coreutils: \$(ls --version | head -1 | sed 's/.* //')
    END_VERSIONS
    """

    stub:
    """
    touch scores.ls.txt

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        coreutils: stub
    END_VERSIONS
    """
}

// The default entry: the whole DAG in one call, then your own step on its output.
workflow {
    def index = ['.fai', '.gzi'].collect { ext -> file("${params.genome}${ext}") }.findAll { f -> f.exists() }
    ENFORMER_VEP(
        Channel.value(file(params.variants, checkIfExists: true)),
        Channel.value(file(params.genome, checkIfExists: true)),
        Channel.value(index),
        Channel.value(file(params.model, checkIfExists: true)),
        params // or any map with the keys of snakemake/workflow/schemas/config.schema.yaml
    )
    REPORT_SCORES(ENFORMER_VEP.out.scores)
}

// -entry BY_STEPS: the four steps wired by hand, e.g. to put your own logic between them. The flags are plain
// strings (the subworkflow builds them from the configuration; the namespace flags must be the same for
// CHECK_CACHE, PREDICT and MERGE), the cache is an absolute path string, never staged.
workflow BY_STEPS {
    def cache_dir = file(params.cache).toAbsolutePath()
    cache_dir.mkdirs()
    def model = Channel.value(file(params.model, checkIfExists: true))
    def namespace = "--store float32 --window 196608"
    // The model is hashed once; CHECK_CACHE, PREDICT and MERGE read its digest from namespace.json.
    NAMESPACE(model, namespace)
    def record = NAMESPACE.out.record

    EXTRACT_SEQS(file(params.variants, checkIfExists: true), file(params.genome, checkIfExists: true), [], "--shard-size 500 --max-pvalue 5e-8 --window 196608")
    CHECK_CACHE(EXTRACT_SEQS.out.shards.flatten().map { shard -> [shard.baseName, shard] }, model, record, cache_dir.toString(), [], namespace)
    // The DAG-level skip: only shards with missing sequences go to PREDICT.
    def todo = CHECK_CACHE.out.todo
        .filter { shard_id, parquet, summary -> new groovy.json.JsonSlurper().parseText(summary.text).missing > 0 }
        .map { shard_id, parquet, summary -> [shard_id, parquet] }
    PREDICT(todo, model, record, cache_dir.toString(), params.device ?: 'cpu', "${namespace} --batch-size 4")
    def done = CHECK_CACHE.out.todo.map { row -> row[2] }.mix(PREDICT.out.summary.map { row -> row[1] }).toList()
    MERGE(EXTRACT_SEQS.out.variants, model, record, cache_dir.toString(), [], [], "${namespace} --stats SAD,logSED", done)
    REPORT_SCORES(MERGE.out.scores)
}
