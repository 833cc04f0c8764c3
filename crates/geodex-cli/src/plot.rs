//! Recall-vs-throughput plots (PNG), the standard ann-benchmarks view: recall on x, queries
//! per second on a log-scale y. Text is drawn with an embedded DejaVu Sans so the plot looks
//! the same on any machine, with no system fonts or fontconfig needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::commands::bench::Row;
use crate::failure::Failure;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn ensure_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The embedded font is a valid TrueType file; registration cannot fail for it.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws one line per series (name, rows) into `path`, written atomically.
pub fn recall_vs_qps(path: &Path, title: &str, series: &[(String, Vec<Row>)]) -> Result<(), Failure> {
    ensure_font();
    let fail = |e: &dyn std::fmt::Display| {
        Failure::runtime(format!("{}: drawing the plot failed: {e}", path.display()))
    };
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
    let scratch = tempfile::tempdir().map_err(|e| fail(&e))?;
    let drawn = scratch.path().join("plot.png");
    {
        let root = BitMapBackend::new(&drawn, (900, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
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
        root.present().map_err(|e| fail(&e))?;
    }
    let png = std::fs::read(&drawn).map_err(|e| fail(&e))?;
    geodex_io::atomic::write_file(path, |w| w.write_all(&png))?;
    Ok(())
}
