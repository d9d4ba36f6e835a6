//! Drawing measurements as an SVG chart: panels stacked one above the other, sharing a
//! logarithmic x axis, each with its own y axis, lines and legend.

use crate::stats::fmt_count;
use anyhow::Context;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;

/// The width of the image, in pixels.
const WIDTH: u32 = 1100;
/// The width of the legend beside each panel, in pixels.
const LEGEND_WIDTH: u32 = 310;
/// The height of one panel, in pixels.
const PANEL_HEIGHT: u32 = 380;
/// The colours of the lines, in order (a marker series takes the colour of the line before it).
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A drawing area of the SVG backend.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A chart: a title, a shared x axis and panels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Above everything.
    pub title: String,
    /// Below each panel's x axis.
    pub x_label: String,
    /// From top to bottom.
    pub panels: Vec<Panel>,
}

/// One panel: a y axis and its series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Beside the y axis.
    pub y_label: String,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// A logarithmic y axis (points at or below zero are left out).
    pub log_y: bool,
}

/// Points joined by a line, or markers alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// In the legend.
    pub label: String,
    /// (x, y); points that are not finite are left out.
    pub points: Vec<(f64, f64)>,
    /// Markers alone, in the colour of the line before.
    pub marker: bool,
}

// === impl Series ===

impl Series {
    /// A line through `points` (sorted by x).
    pub fn line(label: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let mut points: Vec<(f64, f64)> = points.into_iter().collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            label: label.into(),
            points,
            marker: false,
        }
    }

    /// Markers at `points`.
    pub fn marker(label: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points: points.into_iter().collect(),
            marker: true,
        }
    }
}

// === impl Chart ===

impl Chart {
    /// Draws the chart and writes it to `path` (creating its directory).
    pub fn write_svg(&self, path: &Path) -> anyhow::Result<()> {
        let svg = self.render()?;
        prepare(path)?;
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The chart as an SVG document.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = String::new();
        {
            let rows = self.panels.len().max(1);
            let height = 50 + PANEL_HEIGHT * u32::try_from(rows).unwrap_or(1);
            let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(failed)?;
            let root = root
                .titled(&self.title, ("sans-serif", 24))
                .map_err(failed)?;
            let (x0, x1) = self.x_range();
            let x_ticks = log_ticks(x0, x1);
            for (panel, area) in self.panels.iter().zip(root.split_evenly((rows, 1))) {
                let (plot, legend) = area.split_horizontally(WIDTH - LEGEND_WIDTH);
                let x = (x0..x1).log_scale().with_key_points(x_ticks.clone());
                let (y0, y1) = panel.y_range();
                if panel.log_y {
                    let y = (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
                    panel.draw(&plot, x, y, &self.x_label)?;
                } else {
                    panel.draw(&plot, x, y0..y1, &self.x_label)?;
                }
                panel.legend(&legend)?;
            }
            root.present().map_err(failed)?;
        }
        Ok(out)
    }

    /// The x range: every point's x, widened by a factor of 2 each way (drawn on a log scale).
    fn x_range(&self) -> (f64, f64) {
        let xs = self
            .panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| &s.points)
            .map(|p| p.0)
            .filter(|x| x.is_finite() && *x > 0.0);
        let (lo, hi) = bounds(xs).unwrap_or((1.0, 10.0));
        (lo / 2.0, hi * 2.0)
    }
}

// === impl Panel ===

impl Panel {
    /// The y range: from 0 (or a little below the least, on a log axis) to a little above the
    /// most.
    fn y_range(&self) -> (f64, f64) {
        let log = self.log_y;
        let ys = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|p| p.1)
            .filter(|y| y.is_finite() && (!log || *y > 0.0));
        match (bounds(ys), log) {
            (Some((lo, hi)), true) => (lo / 2.0, hi * 2.0),
            (Some((_, hi)), false) if hi > 0.0 => (0.0, hi * 1.2),
            (_, true) => (0.1, 10.0),
            (_, false) => (0.0, 1.0),
        }
    }

    /// The colour of each series.
    fn colors(&self) -> Vec<RGBColor> {
        let mut lines = 0;
        let mut color = COLORS[0];
        self.series
            .iter()
            .map(|s| {
                if !s.marker {
                    color = COLORS[lines % COLORS.len()];
                    lines += 1;
                }
                color
            })
            .collect()
    }

    /// Draws the legend in `area`: a sample and the label of each series.
    fn legend(&self, area: &Area<'_>) -> anyhow::Result<()> {
        let style = ("sans-serif", 14).into_font();
        for (i, (s, c)) in self.series.iter().zip(self.colors()).enumerate() {
            let y = 40 + 20 * i32::try_from(i).unwrap_or(0);
            if s.marker {
                area.draw(&TriangleMarker::new((16, y), 6, c.filled()))
                    .map_err(failed)?;
            } else {
                area.draw(&PathElement::new(vec![(4, y), (28, y)], c.stroke_width(2)))
                    .map_err(failed)?;
                area.draw(&Circle::new((16, y), 4, c.stroke_width(2)))
                    .map_err(failed)?;
            }
            area.draw(&Text::new(s.label.as_str(), (36, y - 7), style.clone()))
                .map_err(failed)?;
        }
        Ok(())
    }

    /// Draws the panel in `area`.
    fn draw<X, Y>(&self, area: &Area<'_>, x: X, y: Y, x_label: &str) -> anyhow::Result<()>
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|v| fmt_count(v.round().max(0.0) as u64))
            .y_label_formatter(&|v| fmt_number(*v))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(failed)?;
        for (s, c) in self.series.iter().zip(self.colors()) {
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0))
                .collect();
            if s.marker {
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|&p| TriangleMarker::new(p, 7, c.filled())),
                    )
                    .map_err(failed)?;
            } else {
                chart
                    .draw_series(LineSeries::new(points, c.stroke_width(2)).point_size(4))
                    .map_err(failed)?;
            }
        }
        Ok(())
    }
}

/// Creates the directory of `path`, so that a plot can be written there: called before a long
/// measurement, it fails at once rather than at the end.
pub fn prepare(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {} for the plot", dir.display()))?;
    }
    if path.is_dir() {
        anyhow::bail!("{} is a directory, not a file for the plot", path.display());
    }
    Ok(())
}

/// A number with as many decimals as its size needs (`350`, `2.5`, `0.25`).
fn fmt_number(v: f64) -> String {
    match v.abs() {
        a if a >= 10.0 || a == 0.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// The labelled points of a log axis from `lo` to `hi`: the powers of ten, and 2 and 5 times
/// them too when the axis spans less than two decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let steps: &[f64] = if hi / lo < 100.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    (first..=last)
        .flat_map(|e| steps.iter().map(move |m| m * 10f64.powi(e)))
        .filter(|v| *v >= lo && *v <= hi)
        .collect()
}

/// The least and the most of some numbers.
fn bounds(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
    })
}

/// A drawing error.
fn failed(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the plot: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_panels_with_lines_and_markers() {
        let chart = Chart {
            title: "t".into(),
            x_label: "instances".into(),
            panels: vec![
                Panel {
                    y_label: "µs".into(),
                    series: vec![
                        Series::line("a", [(1e3, 5.0), (1e2, 4.0), (1e5, 7.0)]),
                        Series::marker("a, many", [(1e5, 9.0)]),
                    ],
                    log_y: false,
                },
                Panel {
                    y_label: "ms".into(),
                    series: vec![Series::line(
                        "b",
                        [(1e2, 0.0), (1e3, f64::NAN), (1e5, 30.0)],
                    )],
                    log_y: true,
                },
            ],
        };
        let svg = chart.render().expect("render");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("a, many") && svg.contains("polyline"));
    }

    #[test]
    fn log_ticks_are_decades_or_1_2_5() {
        assert_eq!(
            log_ticks(50.0, 200_000.0),
            [100.0, 1_000.0, 10_000.0, 100_000.0]
        );
        assert_eq!(log_ticks(5.0, 60.0), [5.0, 10.0, 20.0, 50.0]);
        assert!(log_ticks(0.0, 10.0).is_empty());
        assert!(log_ticks(f64::NAN, 10.0).is_empty());
    }

    #[test]
    fn empty_and_single_points_render() {
        let mut chart = Chart::default();
        chart.render().expect("no panel");
        chart.panels.push(Panel {
            series: vec![Series::line("one", [(100.0, 0.0)])],
            ..Panel::default()
        });
        chart.render().expect("one point at zero");
    }

    #[test]
    fn writes_into_a_new_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docs/curve.svg");
        Chart::default().write_svg(&path).expect("write");
        assert!(path.is_file());
    }
}
