//! Recall-vs-throughput plots (PNG), the standard ann-benchmarks view: recall on x, queries
//! per second on a log-scale y. Text is drawn with an embedded DejaVu Sans so the plot looks
//! the same on any machine, with no system fonts or fontconfig needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::failure::Failure;
use geodex_core::measure::SweepRow as Row;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn ensure_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The embedded font is a valid TrueType file; registration cannot fail for it.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The error for a drawing failure of the plot at `path`.
fn drawing_failed(path: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::runtime(format!("{}: drawing the plot failed: {e}", path.display()))
}

/// Draws a 900 × 600 PNG with `draw` (given a white drawing area) into a scratch file, then
/// writes it to `path` atomically.
fn render_png(
    path: &Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    ensure_font();
    let fail = |e: &dyn std::fmt::Display| drawing_failed(path, e);
    let scratch = tempfile::tempdir().map_err(|e| fail(&e))?;
    let drawn = scratch.path().join("plot.png");
    {
        let root = BitMapBackend::new(&drawn, (900, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        draw(&root)?;
        root.present().map_err(|e| fail(&e))?;
    }
    let png = std::fs::read(&drawn).map_err(|e| fail(&e))?;
    geodex_io::atomic::write_file(path, |w| w.write_all(&png))?;
    Ok(())
}

/// Draws one line per series (name, rows) into `path`, written atomically.
pub fn recall_vs_qps(path: &Path, title: &str, series: &[(String, Vec<Row>)]) -> Result<(), Failure> {
    let fail = |e: &dyn std::fmt::Display| drawing_failed(path, e);
    let points = series.iter().flat_map(|(_, rows)| rows.iter());
    let (mut qmin, mut qmax, mut rmin) = (f64::MAX, 0f64, 1f64);
    for r in points {
        qmin = qmin.min(r.qps);
        qmax = qmax.max(r.qps);
        rmin = rmin.min(r.recall);
    }
    if qmax <= 0.0 {
        return Err(Failure::input("nothing to plot"));
    }
    let x_lo = ((rmin - 0.02).max(0.0) * 50.0).floor() / 50.0;
    render_png(path, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo..1.012, (qmin / 1.5..qmax * 1.5).log_scale())
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc("recall@k")
            .y_desc("queries per second (log)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|v| format!("{v:.2}"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| fail(&e))?;
        for (i, (name, rows)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = rows.iter().map(|r| (r.recall, r.qps)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| fail(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| fail(&e))?;
            chart
                .draw_series(rows.iter().map(|r| {
                    Text::new(
                        format!("ef={}", r.ef),
                        (r.recall, r.qps * 1.12),
                        ("sans-serif", 12).into_font().color(&color),
                    )
                }))
                .map_err(|e| fail(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| fail(&e))?;
        Ok(())
    })
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    /// Connected points.
    Line,
    /// Unconnected dots.
    Dots,
    /// Horizontal bars from x = 0 to each point's x, at the point's y (a barcode).
    Bars,
}

/// One named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
}

/// A plain x–y chart of `series` (linear axes; `log_y` for a logarithmic y axis), written
/// atomically to `path`.
pub fn xy_chart(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    log_y: bool,
    series: &[Series],
) -> Result<(), Failure> {
    let fail = |e: &dyn std::fmt::Display| drawing_failed(path, e);
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let finite: Vec<(f64, f64)> = all()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
        .collect();
    if finite.is_empty() {
        return Err(Failure::input(format!("{}: nothing to plot", path.display())));
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &finite {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if series.iter().any(|s| matches!(s.mark, Mark::Bars)) {
        x0 = x0.min(0.0);
    }
    let pad = |lo: f64, hi: f64| {
        let d = if hi > lo {
            (hi - lo) * 0.05
        } else {
            lo.abs().max(1.0) * 0.05
        };
        (lo - d, hi + d)
    };
    let (x0, x1) = pad(x0, x1);
    render_png(path, |root| {
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(axes.0)
                    .y_desc(axes.1)
                    .label_style(("sans-serif", 14))
                    .draw()
                    .map_err(|e| fail(&e))?;
                for (i, s) in series.iter().enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    let pts: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .copied()
                        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
                        .collect();
                    let legend = move |(x, y): (i32, i32)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    };
                    let drawn = match s.mark {
                        Mark::Line => chart
                            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                            .map_err(|e| fail(&e))?,
                        Mark::Dots => chart
                            .draw_series(pts.into_iter().map(|p| Circle::new(p, 2, color.filled())))
                            .map_err(|e| fail(&e))?,
                        Mark::Bars => chart
                            .draw_series(pts.into_iter().map(|(x, y)| {
                                PathElement::new(vec![(0.0, y), (x, y)], color.stroke_width(1))
                            }))
                            .map_err(|e| fail(&e))?,
                    };
                    if !s.name.is_empty() {
                        drawn.label(s.name.as_str()).legend(legend);
                    }
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(|e| fail(&e))?;
            }};
        }
        if log_y {
            draw!(builder
                .build_cartesian_2d(x0..x1, (y0 / 1.5..y1 * 1.5).log_scale())
                .map_err(|e| fail(&e))?);
        } else {
            let (y0, y1) = pad(y0, y1);
            draw!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| fail(&e))?);
        }
        Ok(())
    })
}
