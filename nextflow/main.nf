#!/usr/bin/env nextflow
// enformer-vep: Enformer variant-effect scores for a GWAS, sharded over a cluster.
//
//   nextflow run nextflow/main.nf -params-file my-config.yaml -profile apptainer,slurm[,gpu]
//   nextflow run nextflow/main.nf -profile test            # built-in demo data and the tiny model
//
// The configuration is the one YAML format of workflow/schemas/config.schema.yaml (documented field by field in
// workflows/examples/config.yaml): its keys are this pipeline's params. The DAG (workflows/README.md) lives in
// the ENFORMER_VEP subworkflow, which your own pipeline can include as well (nextflow/README.md).

nextflow.enable.dsl = 2

include { DEMO_DATA    } from './modules/local/demo_data/main'
include { ENFORMER_VEP } from './subworkflows/local/enformer_vep/main'

workflow {
    // Unknown keys are errors, as in workflow/schemas/config.schema.yaml: a typo must not fall back to a default.
    def schema = file("${projectDir}/../workflow/schemas/config.schema.yaml")
    if (schema.exists()) {
        def known = new org.yaml.snakeyaml.Yaml().load(schema.text).get('properties').keySet() + ['demo_data']
        def unknown = params.keySet().findAll { key -> !(key in known) }
        if (unknown) {
            error("enformer-vep: unknown configuration keys ${unknown.join(', ')} (the keys of ${schema} are " +
                  "snake_case: --shard_size 500, not --shard-size)")
        }
    }
    else {
        log.warn("enformer-vep: ${schema} not found; configuration keys not checked")
    }

    def missing = ['model', 'cache'].findAll { key -> !params[key] }
    if (!params.demo_data) {
        missing = ['variants', 'genome'].findAll { key -> !params[key] } + missing
    }
    if (missing) {
        error("enformer-vep: missing ${missing.join(', ')}: pass -params-file CONFIG.yaml (every field: " +
              "workflows/examples/config.yaml) or --${missing[0]} VALUE, or run -profile test")
    }

    // No image is published (containers/README.md): with -profile docker/apptainer the default CHANGE-ME is refused.
    if (workflow.containerEngine) {
        def kinds = params.device.toString().startsWith('cuda') ? ['cpu', 'gpu'] : ['cpu']
        def unset = kinds.findAll { kind -> !params.containers?.get(kind) || params.containers.get(kind) == 'CHANGE-ME' }
        if (unset) {
            error("enformer-vep: containers: ${unset.join(' and ')} not set (CHANGE-ME). No image is published: build " +
                  "it with `docker build -f containers/Dockerfile -t enformer-vep:0.1.0 .` (Dockerfile.cuda for gpu; " +
                  "Apptainer: containers/README.md), push it to your registry or keep the .sif, and set " +
                  "containers: {cpu: ..., gpu: ...} in your -params-file")
        }
    }

    // Channels of [ meta, file(s) ], as nf-core modules take them: meta.id names the run (the variants file's
    // base name), the genome (its base name) and the model (its base name).
    def ch_variants
    def ch_genome
    if (params.variants || params.genome) {
        if (!(params.variants && params.genome)) {
            error("enformer-vep: `variants` and `genome` go together (demo_data is only used when both are unset)")
        }
        def variants = file(params.variants, checkIfExists: true)
        def genome = file(params.genome, checkIfExists: true)
        // Existing indexes travel with the FASTA; a missing one is built inside the task (not beside the FASTA).
        def index = ['.fai', '.gzi'].collect { ext -> file("${params.genome}${ext}") }.findAll { path -> path.exists() }
        ch_variants = Channel.value([[id: variants.baseName], variants])
        ch_genome = Channel.value([[id: genome.baseName], genome, index])
    }
    else {
        // -profile test: the built-in demo genome and Kunkle-layout table (`enformer-vep demo-data`).
        DEMO_DATA(Channel.value([id: 'demo']))
        ch_variants = DEMO_DATA.out.variants
        ch_genome = DEMO_DATA.out.genome
            .join(DEMO_DATA.out.fai)
            .map { meta, fasta, fai -> [meta, fasta, [fai]] }
    }

    def model = file(params.model, checkIfExists: true)
    ENFORMER_VEP(
        ch_variants,
        ch_genome,
        Channel.value([[id: model.baseName], model]),
        params
    )

    // Software versions: every process sends [ process, tool, version ] to the `versions` topic (nf-core's
    // topic channels, Nextflow >= 25.04); one YAML file, keyed by the process's simple name.
    channel.topic('versions')
        .map { process, tool, version -> "${process.tokenize(':').last()}:\n    ${tool}: ${version}\n" }
        .unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.results}/pipeline_info", sort: true, newLine: false)
}
