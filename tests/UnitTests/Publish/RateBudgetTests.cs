using CioSegment.Processor.Publish;
using Microsoft.Extensions.Time.Testing;

namespace CioSegment.UnitTests.Publish;

public sealed class RateBudgetTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>How many slots are granted within <paramref name="seconds"/> of simulated time, asking all the time.</summary>
    private int Granted(RateBudget budget, double seconds)
    {
        var granted = 0;
        var end = _time.GetUtcNow().AddSeconds(seconds);
        while (_time.GetUtcNow() < end)
        {
            var wait = budget.WaitAsync(CancellationToken.None);
            while (!wait.IsCompleted)
            {
                _time.Advance(TimeSpan.FromMilliseconds(1));
            }

            if (_time.GetUtcNow() < end)
            {
                granted++;
            }
        }

        return granted;
    }

    [Fact]
    public void Slots_are_evenly_spaced_at_the_configured_rate_without_a_burst_after_idling()
    {
        var budget = new RateBudget(30, _time);
        _time.Advance(TimeSpan.FromMinutes(1));   // idle: no credit piles up

        Assert.InRange(Granted(budget, 1), 30, 32);
        Assert.InRange(Granted(budget, 10), 299, 301);
    }

    [Fact]
    public void An_instance_owning_a_third_of_the_partitions_takes_a_third_of_the_budget()
    {
        var budget = new RateBudget(30, _time);
        budget.SetShare(1 / 3.0);

        Assert.Equal(10, budget.Ceiling, 6);
        Assert.InRange(Granted(budget, 10), 99, 102);

        budget.SetShare(1);   // the others left: the whole budget again
        Assert.InRange(Granted(budget, 10), 295, 302);   // the slot booked at the old spacing comes first
    }

    [Fact]
    public void A_429_halves_the_rate_and_it_climbs_back_by_a_twentieth_of_the_ceiling_per_second()
    {
        var budget = new RateBudget(100, _time);
        budget.Throttled();
        Assert.Equal(50, budget.Rate, 6);
        budget.Throttled();
        Assert.Equal(25, budget.Rate, 6);

        _time.Advance(TimeSpan.FromSeconds(5));
        _ = budget.WaitAsync(CancellationToken.None);
        Assert.Equal(50, budget.Rate, 6);

        _time.Advance(TimeSpan.FromSeconds(60));
        _ = budget.WaitAsync(CancellationToken.None);
        Assert.Equal(100, budget.Rate, 6);   // never above the ceiling

        for (var i = 0; i < 20; i++)
        {
            budget.Throttled();
        }

        Assert.Equal(0.5, budget.Rate, 6);   // a floor: one request every two seconds keeps probing
    }

    [Fact]
    public void A_cancelled_wait_ends_at_once()
    {
        var budget = new RateBudget(1, _time);
        _ = budget.WaitAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var wait = budget.WaitAsync(cancel.Token);
        Assert.False(wait.IsCompleted);

        cancel.Cancel();

        Assert.True(wait.IsCanceled);
    }
}
