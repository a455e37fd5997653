import JobStore

// The store's records that the generated code uses as bodies (typeOverrides in
// openapi-generator-config.yaml). Named through these aliases because `JobStore.QueueInfo` does not
// compile: the module's class `JobStore` shadows the module's name.
public typealias StoreQueueInfo = QueueInfo
public typealias StoreJobListEntry = JobListEntry
public typealias StoreJobDetail = JobDetail
public typealias StoreWorkerInfo = WorkerInfo
public typealias StoreStatsReport = StatsReport
public typealias StoreIDOutcome = IDOutcome
public typealias StoreAuditEntry = AuditEntry
public typealias StoreModelHealth = ModelHealth
public typealias StoreChartSeries = ChartSeries
public typealias StoreBatchInfo = BatchInfo

// The generated response enums are Hashable, so the records they carry must be too. Nothing hashes them:
// an empty hash(into:) is a valid Hashable next to their synthesized Equatable (equal values hash alike),
// and it keeps Hashable out of the store's own declarations, which only this generated code needs.
extension QueueInfo: Hashable { public func hash(into hasher: inout Hasher) {} }
extension JobListEntry: Hashable { public func hash(into hasher: inout Hasher) {} }
extension JobDetail: Hashable { public func hash(into hasher: inout Hasher) {} }
extension WorkerInfo: Hashable { public func hash(into hasher: inout Hasher) {} }
extension StatsReport: Hashable { public func hash(into hasher: inout Hasher) {} }
extension IDOutcome: Hashable { public func hash(into hasher: inout Hasher) {} }
extension AuditEntry: Hashable { public func hash(into hasher: inout Hasher) {} }
extension ModelHealth: Hashable { public func hash(into hasher: inout Hasher) {} }
extension ChartSeries: Hashable { public func hash(into hasher: inout Hasher) {} }
extension BatchInfo: Hashable { public func hash(into hasher: inout Hasher) {} }
