using CioSegment.Processor.Publish;
using Microsoft.Extensions.Time.Testing;

namespace CioSegment.UnitTests.Publish;

/// <summary>A source's breaker: delivering, holding after HoldAfter of whole-request failures or over its memory budget, back on a success.</summary>
public sealed class SourceDeliveryTests
{
    private static readonly TimeSpan HoldAfter = TimeSpan.FromSeconds(30);
    private const long Budget = 1000;

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Failures_shorter_than_HoldAfter_or_broken_by_a_success_do_not_hold()
    {
        var source = new SourceDelivery("acme", _time);
        source.Answered(wholeRequestFailure: true);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Null(source.Update(HoldAfter, Budget));

        source.Answered(wholeRequestFailure: false);   // a 2xx (or a 400 about an event): Segment takes the source
        Assert.Equal(0, source.FailingSince);
        source.Answered(wholeRequestFailure: true);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Null(source.Update(HoldAfter, Budget));
        Assert.Equal(SourceMode.Delivering, source.Mode);
    }

    [Fact]
    public void HoldAfter_of_failures_holds_and_cancels_the_requests_then_a_success_delivers_again()
    {
        var source = new SourceDelivery("acme", _time);
        var requests = source.Requests;
        source.Answered(wholeRequestFailure: true);
        _time.Advance(TimeSpan.FromSeconds(10));
        source.Answered(wholeRequestFailure: true);   // later failures do not move the start
        _time.Advance(TimeSpan.FromSeconds(20));

        Assert.Equal(SourceMode.Holding, source.Update(HoldAfter, Budget));
        Assert.True(requests.IsCancellationRequested);
        Assert.False(source.Requests.IsCancellationRequested);   // a fresh token for the requests to come
        Assert.Null(source.Update(HoldAfter, Budget));

        source.Answered(wholeRequestFailure: true);   // the held path's probes keep failing
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(source.Update(HoldAfter, Budget));

        source.Answered(wholeRequestFailure: false);
        Assert.Equal(SourceMode.Delivering, source.Update(HoldAfter, Budget));
    }

    [Fact]
    public void Over_its_memory_budget_a_source_holds_until_back_under_half()
    {
        var source = new SourceDelivery("acme", _time) { BufferedBytes = Budget };
        Assert.Equal(SourceMode.Holding, source.Update(HoldAfter, Budget));

        source.BufferedBytes = Budget / 2;
        Assert.Null(source.Update(HoldAfter, Budget));
        source.BufferedBytes = (Budget / 2) - 1;
        Assert.Equal(SourceMode.Delivering, source.Update(HoldAfter, Budget));
    }
}
