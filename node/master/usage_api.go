package master

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// errUsageNotBuilt is temporary: usage ingestion lands in the next steps.
var errUsageNotBuilt = connect.NewError(connect.CodeUnimplemented, errors.New("usage metering is not built yet"))

// ReportUsage commits a collector's usage records.
func (h collectorHandler) ReportUsage(context.Context, *connect.Request[licmeshv1.ReportUsageRequest]) (*connect.Response[licmeshv1.ReportUsageResponse], error) {
	return nil, errUsageNotBuilt
}

// UsageOverview lists the months and installations with usage.
func (h adminHandler) UsageOverview(context.Context, *connect.Request[licmeshv1.UsageOverviewRequest]) (*connect.Response[licmeshv1.UsageOverviewResponse], error) {
	return nil, errUsageNotBuilt
}

// UsageHistory returns one installation's months.
func (h adminHandler) UsageHistory(context.Context, *connect.Request[licmeshv1.UsageHistoryRequest]) (*connect.Response[licmeshv1.UsageHistoryResponse], error) {
	return nil, errUsageNotBuilt
}

// UsageMonth returns one month's installations.
func (h adminHandler) UsageMonth(context.Context, *connect.Request[licmeshv1.UsageMonthRequest]) (*connect.Response[licmeshv1.UsageMonthResponse], error) {
	return nil, errUsageNotBuilt
}

// UsageDays returns one installation's daily aggregates.
func (h adminHandler) UsageDays(context.Context, *connect.Request[licmeshv1.UsageDaysRequest]) (*connect.Response[licmeshv1.UsageDaysResponse], error) {
	return nil, errUsageNotBuilt
}
