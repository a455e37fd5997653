// swift-tools-version:6.0
// ZipAR-serve: LlamaGen image generation with ZipAR parallel decoding, served from a PostgreSQL job queue.
//
// Targets, bottom to top (each has one job):
//   CBLAS, CPNG   system libraries (OpenBLAS, libpng)
//   Kernels       every line of unsafe pointer code: matmul, attention, conv, norms, mmap, PNG codec
//   JobCore       Foundation only: JobParameters (one home, one validate) and their key table, window policies
//                 (ntp, zipar, adaptive, official, sjd, zipar-sjd), ModelLimits, job states, specs, outputs,
//                 errors and backoff, the JobQueue protocol and InMemoryJobQueue
//   ModelFolder   Foundation only: what a model folder's config files state (LlamaGen config.json, a text
//                 model's name and grid), so submission validates against a folder without inference code
//   Model         safetensors; DecoderEngine, the one transformer forward pass and KV caches every family runs
//                 on (TransformerSpec + DecoderWeights + RotaryTable); LlamaGen's GPT as its configuration; the
//                 VQ building blocks and LlamaGen's VQ decoder
//   Decoding      seeded sampling, the window policies' decoders, the continuous-batching scheduler
//   JobStore      JobCore + PostgreSQL: schema, SQL, submit, claims with leases, results (all SQL in one place)
//   Runner        the worker loop over any JobQueue (JobStore, or InMemoryJobQueue in tests), executors
//   Submission    prompt files and JSONL -> validated job specs
//   CLISupport    what every executable shares: option types, error output, exit codes, database access, logs
//   ModelCLI      the flags of the executables that run a model (--storage and the model-side value types)
//   Telemetry     Prometheus metrics, health endpoints and the small HTTP server the worker exposes
//   HTTPAPI       the JSON API's types and server stubs, generated from docs/openapi.yaml (scripts/gen-openapi.sh)
//   Dashboard     `zipar-admin serve`: server-rendered pages, the JSON API over the job store, the batch API
//                 (JSONL validated by Submission) and the completion event stream (SSE)
//   Tokenizer     Hugging Face tokenizer.json (BPE) in Swift, for the text-to-image families' prompts
//   TextModel     the text-to-image families (Emu3, Chameleon/Lumina-mGPT): their configs and weight names mapped
//                 onto Model's DecoderModel, Hugging Face checkpoints (sharded safetensors), their VQ decoders
//   ImageModels   ImageModel: one facade over a loaded folder of any family (limits, scheduler, image, probe)
//   executables   zipar, zipar-submit, zipar-worker, zipar-admin, zipar-bench; zipar-submit and zipar-admin
//                 link no inference code (no Kernels, CKernels, OpenBLAS or libpng: scripts/check-links.sh)
// docs/architecture.md draws the targets and the path of a job through them.
import PackageDescription

let package = Package(
    name: "ZipARServe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zipar", targets: ["ZiparCLI"]),
        .executable(name: "zipar-submit", targets: ["ZiparSubmit"]),
        .executable(name: "zipar-worker", targets: ["ZiparWorker"]),
        .executable(name: "zipar-admin", targets: ["ZiparAdmin"]),
        .executable(name: "zipar-bench", targets: ["ZiparBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.25.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),   // NIOEmbedded, for routing tests
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.30.0"),   // batch webhooks (https, no libcurl)
        // The /api routes' types and registration, generated from docs/openapi.yaml by scripts/gen-openapi.sh
        // (the generator itself is not a dependency: its output is committed).
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .target(name: "CKernels"),   // AVX2/FMA/F16C loops + thread pool, runtime-dispatched
        .target(name: "Kernels", dependencies: ["CBLAS", "CPNG", "CKernels"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        .target(name: "JobCore"),   // Foundation only
        .target(name: "ModelFolder", dependencies: ["JobCore"]),   // Foundation only
        .target(name: "Model", dependencies: ["ModelFolder", "Kernels"]),
        .target(name: "Decoding", dependencies: ["JobCore", "Model", "Kernels", "TextModel"]),
        .target(name: "JobStore", dependencies: [
            "JobCore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "ImageModels", dependencies: ["JobCore", "Decoding", "Model", "TextModel", "Kernels"]),
        .target(name: "Runner", dependencies: [
            "JobCore", "JobStore", "Decoding", "ImageModels", "Model", "TextModel", "Kernels",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Submission", dependencies: ["JobCore", "JobStore", "ModelFolder"]),
        .target(name: "Telemetry", dependencies: [
            "JobCore",   // Foundation only: its `Locked`, so zipar-admin still links no inference code
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HTTPAPI", dependencies: [   // generated from docs/openapi.yaml: scripts/gen-openapi.sh
            "JobCore", "JobStore",
            .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
        ], exclude: ["openapi-generator-config.yaml", "Generated/openapi.sha256"]),
        .target(name: "Dashboard", dependencies: [
            "JobCore", "JobStore", "Telemetry", "Submission", "HTTPAPI",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .target(name: "CLISupport", dependencies: [
            "JobCore", "JobStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "ModelCLI", dependencies: [
            "CLISupport", "Model", "Kernels", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "ZiparCLI", dependencies: ["JobCore", "Model", "Decoding", "ImageModels", "CLISupport", "ModelCLI", "TextModel"]),
        .executableTarget(name: "ZiparSubmit", dependencies: ["JobCore", "JobStore", "Submission", "ModelFolder", "CLISupport"]),
        .executableTarget(name: "ZiparWorker", dependencies: [
            "JobCore", "JobStore", "Runner", "Model", "Decoding", "Kernels", "CLISupport", "ModelCLI", "Telemetry",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "ZiparAdmin", dependencies: ["JobCore", "JobStore", "CLISupport", "Dashboard", "Telemetry", "Submission",
                                                             .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .executableTarget(name: "ZiparBench", dependencies: ["JobCore", "Model", "Decoding", "ImageModels", "Kernels", "CLISupport", "ModelCLI",
                                                             "TextModel"]),
        .target(name: "Tokenizer"),   // Hugging Face tokenizer.json (BPE) encode/decode, Foundation only
        .target(name: "TextModel", dependencies: ["Model", "Kernels", "Tokenizer"]),
        .target(name: "TestSupport", dependencies: ["JobCore", "JobStore", "Runner", .product(name: "Logging", package: "swift-log")],
                path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "JobCoreTests", dependencies: ["JobCore"]),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "JobCore", "TextModel"]),
        .testTarget(name: "JobStoreTests", dependencies: ["JobStore", "JobCore", "TestSupport"]),
        .testTarget(name: "RunnerTests", dependencies: ["Runner", "JobStore", "JobCore", "Decoding", "Model", "TestSupport"]),
        .testTarget(name: "SubmissionTests", dependencies: ["Submission", "JobStore", "JobCore", "ModelFolder"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "TextModelTests", dependencies: ["TextModel", "Model", "Kernels"]),
        .testTarget(name: "DashboardTests", dependencies: [
            "Dashboard", "JobStore", "JobCore", "Telemetry", "TestSupport", "Submission",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "CLITests", dependencies: ["CLISupport", "ModelCLI", "JobStore", "JobCore", "ModelFolder", "Decoding", "Kernels",
                                                     "TestSupport"]),
    ]
)
